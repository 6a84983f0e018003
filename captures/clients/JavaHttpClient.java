// Java 11+ java.net.http.HttpClient GET https://SNI:PORT/ (SNI resolved to 127.0.0.1 by the
// caller's -Djdk.net.hosts.file), certificate not checked. Which versions it offers comes
// from jdk.tls.client.protocols, as in a real application.
import java.net.URI;
import java.net.http.*;
import java.security.cert.X509Certificate;
import javax.net.ssl.*;

public class JavaHttpClient {
    public static void main(String[] args) throws Exception {
        TrustManager[] trustAll = { new X509TrustManager() {
            public void checkClientTrusted(X509Certificate[] c, String a) {}
            public void checkServerTrusted(X509Certificate[] c, String a) {}
            public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
        } };
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, trustAll, null);
        HttpClient c = HttpClient.newBuilder().sslContext(ctx).build();
        try {
            c.send(HttpRequest.newBuilder(URI.create("https://" + args[0] + ":" + args[1] + "/")).build(),
                   HttpResponse.BodyHandlers.discarding());
        } catch (Exception e) {
        }
    }
}
