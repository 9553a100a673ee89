import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;

/**
 * Embedded Neo4j (community) with only the Bolt connector, for storagebench's local service.
 *
 * Usage: Neo4jServer HOME_DIR HOST BOLT_PORT PAGE_CACHE_MIB
 * Auth is disabled (a local, loopback-only benchmark engine); HTTP/HTTPS connectors are off.
 * Runs in the foreground until SIGTERM, then shuts the databases down cleanly.
 */
public final class Neo4jServer {
    private Neo4jServer() {}

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 4) {
            System.err.println("usage: Neo4jServer HOME_DIR HOST BOLT_PORT PAGE_CACHE_MIB");
            System.exit(2);
        }
        Path home = Path.of(args[0]);
        SocketAddress bolt = new SocketAddress(args[1], Integer.parseInt(args[2]));
        long pageCacheBytes = Long.parseLong(args[3]) * 1024L * 1024L;

        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(home)
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, bolt)
                .setConfig(BoltConnector.advertised_address, bolt)
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, pageCacheBytes)
                // a benchmark engine: keep the transaction log small instead of Neo4j's "2 days"
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "2 files")
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .build();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            dbms.shutdown();
            stopped.countDown();
        }, "neo4j-shutdown"));
        System.out.println("neo4j: bolt listening on " + bolt);
        System.out.flush();
        stopped.await();
    }
}
