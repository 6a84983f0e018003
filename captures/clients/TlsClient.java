// A plain JSSE client: handshakes with HOST:PORT presenting SNI, sends one HTTP request, and
// prints the negotiated protocol and cipher. Which versions it offers comes from the
// standard jdk.tls.client.protocols property, exactly as in a real Java application.
import javax.net.ssl.*;
import java.io.*;
import java.security.cert.X509Certificate;
import java.util.List;

public class TlsClient {
    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String sni = args[2];
        TrustManager[] trustAll = { new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] c, String a) {}
            public void checkServerTrusted(X509Certificate[] c, String a) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        } };
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, trustAll, null);
        try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(host, port)) {
            SSLParameters p = s.getSSLParameters();
            p.setServerNames(List.of(new SNIHostName(sni)));
            s.setSSLParameters(p);
            s.startHandshake();
            System.out.println(s.getSession().getProtocol() + " " + s.getSession().getCipherSuite());
            OutputStream o = s.getOutputStream();
            o.write(("GET / HTTP/1.0\r\nHost: " + sni + "\r\n\r\n").getBytes());
            o.flush();
            s.getInputStream().read(new byte[4096]);
        } catch (IOException e) {
            System.out.println("failed: " + e.getMessage());
        }
    }
}
