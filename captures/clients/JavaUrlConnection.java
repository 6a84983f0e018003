// Java's HttpsURLConnection GET https://SNI:PORT/ (the name resolved by -Djdk.net.hosts.file),
// certificate and host name not checked. Which versions it offers comes from
// jdk.tls.client.protocols / https.protocols, as in a real application.
import java.net.URL;
import java.security.cert.X509Certificate;
import javax.net.ssl.*;

public class JavaUrlConnection {
    public static void main(String[] args) throws Exception {
        TrustManager[] trustAll = { new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] c, String a) {}
            public void checkServerTrusted(X509Certificate[] c, String a) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        } };
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, trustAll, null);
        HttpsURLConnection.setDefaultSSLSocketFactory(ctx.getSocketFactory());
        HttpsURLConnection.setDefaultHostnameVerifier((h, s) -> true);
        try {
            HttpsURLConnection c = (HttpsURLConnection) new URL("https://" + args[0] + ":" + args[1] + "/").openConnection();
            c.getInputStream().close();
        } catch (Exception e) {
        }
    }
}
