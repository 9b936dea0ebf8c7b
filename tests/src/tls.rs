//! TLS for the test API server. kubectl (client-go) does not send a bearer token over plain
//! http, so the server speaks https with a fixed test certificate for `127.0.0.1`/`localhost`,
//! signed by a fixed test CA that generated kubeconfigs trust through
//! `certificate-authority-data` (no `insecure-skip-tls-verify`).
//!
//! The keys below exist only for these tests (ECDSA P-256, valid 2000-01-01 to 2199-12-31).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;

/// The test CA (put in kubeconfigs as `certificate-authority-data`).
pub const CA_CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBizCCATGgAwIBAgIUaZVbTQDzHGlE5ms4tVd/rUp5g8owCgYIKoZIzj0EAwIw
ITEfMB0GA1UEAwwWZ3VhcmRyYWlscy1lMmUgdGVzdCBDQTAgFw0wMDAxMDEwMDAw
MDBaGA8yMTk5MTIzMTAwMDAwMFowITEfMB0GA1UEAwwWZ3VhcmRyYWlscy1lMmUg
dGVzdCBDQTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABHLayEMx5kMZBbJP845J
4mlpRZh9Rv53jJhBfmGO2424p7QW83prFzEZp20f4GZq+YHfVomDTI7ZG91DjpO8
dJejRTBDMBIGA1UdEwEB/wQIMAYBAf8CAQAwDgYDVR0PAQH/BAQDAgEGMB0GA1Ud
DgQWBBS/n2W6WzRqbNpeNFnjNleALioYaDAKBggqhkjOPQQDAgNIADBFAiEAySAT
v8nSGYAxKoWInttuMy3LGjNO9dEsrqUKUnWGGWQCIGHfaPB4oN5LOlz+QXCm8jkV
BNLz3PqyiJLb/eqCbI9h
-----END CERTIFICATE-----
";

/// The server certificate (SANs: IP 127.0.0.1, DNS localhost), signed by [`CA_CERT_PEM`].
pub const SERVER_CERT_PEM: &str = "-----BEGIN CERTIFICATE-----
MIIBvzCCAWagAwIBAgIUKSTw7leBZV1X8AIO96WqnCwuSMgwCgYIKoZIzj0EAwIw
ITEfMB0GA1UEAwwWZ3VhcmRyYWlscy1lMmUgdGVzdCBDQTAgFw0wMDAxMDEwMDAw
MDBaGA8yMTk5MTIzMTAwMDAwMFowKTEnMCUGA1UEAwweZ3VhcmRyYWlscy1lMmUg
dGVzdCBBUEkgc2VydmVyMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE925DctaI
S2t5nmPT/yuHALpvloSfq5Mosz6UV7ySvmqO/gCcw4GjiaTDAulPPqM7eyqdltbp
3K/6C2PBqP2UGaNyMHAwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwEwYD
VR0lBAwwCgYIKwYBBQUHAwEwGgYDVR0RBBMwEYcEfwAAAYIJbG9jYWxob3N0MB8G
A1UdIwQYMBaAFL+fZbpbNGps2l40WeM2V4AuKhhoMAoGCCqGSM49BAMCA0cAMEQC
IDjI6wxOU+Em3Wx/N/ZbgmYmNVqzemDPZoiSGsox2+aUAiAb9NV7Y9UKBn7+JtaY
kQYETk76MBepfbBB5zHmsacv8g==
-----END CERTIFICATE-----
";

/// The server certificate's private key (PKCS#8).
pub const SERVER_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgubMw8HZjz0BpwVC4
fgWA4x48iGMMlflMe4T5I18p6X2hRANCAAT3bkNy1ohLa3meY9P/K4cAum+WhJ+r
kyizPpRXvJK+ao7+AJzDgaOJpMMC6U8+ozt7Kp2W1uncr/oLY8Go/ZQZ
-----END PRIVATE KEY-----
";

/// `certificate-authority-data` for kubeconfigs: base64 of [`CA_CERT_PEM`].
pub fn ca_data_base64() -> String {
    STANDARD.encode(CA_CERT_PEM)
}

/// The DER bytes of the first PEM block.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    STANDARD
        .decode(body)
        .expect("embedded test PEM is valid base64")
}

/// The rustls server configuration (ring provider, HTTP/1.1 via ALPN).
pub fn server_config() -> Arc<rustls::ServerConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cert = CertificateDer::from(pem_der(SERVER_CERT_PEM));
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pem_der(SERVER_KEY_PEM)));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("embedded test certificate and key match");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// An `axum::serve` listener handing out TLS streams; handshakes run concurrently in their own
/// tasks so a slow or failing client does not hold up the others.
pub struct TlsListener {
    rx: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    addr: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `listener` (must be called inside a tokio runtime).
    pub fn new(listener: TcpListener) -> std::io::Result<TlsListener> {
        let addr = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(server_config());
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(conn) => conn,
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                // Go's net package, so kube-apiserver, sets TCP_NODELAY on every connection:
                // without it a response's last small segment can wait for the client's
                // delayed ACK (up to 40 ms on Linux).
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    if let Ok(Ok(tls)) =
                        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                    {
                        let _ = tx.send((tls, peer)).await;
                    }
                });
            }
        });
        Ok(TlsListener { rx, addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(conn) => conn,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.addr)
    }
}
