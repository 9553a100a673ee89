// Local small HDFS (DataNode count from storagebench.minidfs.datanodes) for storagebench: a MiniDFSCluster bound to 127.0.0.1.
//
//   java -Xmx512m -cp <classes>:<hadoop-client-minicluster classpath> MiniDFS BASE_DIR NN_PORT HTTP_PORT [KEY=VALUE...]
//
// KEY=VALUE pairs go into the cluster's Configuration (storagebench/services/hdfs.py decides them: the
// durability profile and the close settings).  storagebench.minidfs.skip-fsync=true|false becomes
// MiniDFSCluster's skipFsyncForTesting (the NameNode edit log's fsync; true is MiniDFSCluster's default).
// The name directory is formatted only on the first start (when BASE_DIR has no formatted image),
// so data survives restarts.  Runs in the foreground until SIGTERM, then shuts the cluster down.

import java.io.File;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

public final class MiniDFS {
    private MiniDFS() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: MiniDFS BASE_DIR NAMENODE_PORT HTTP_PORT [KEY=VALUE...]");
            System.exit(2);
        }
        File base = new File(args[0]).getAbsoluteFile();
        int nnPort = Integer.parseInt(args[1]);
        int httpPort = Integer.parseInt(args[2]);
        // MiniDFSCluster keeps its image in BASE_DIR/name-0-1 (and -2) and blocks in BASE_DIR/data/data1..;
        // a VERSION file in the image directory means an earlier start formatted it.
        boolean formatted = new File(base, "name-0-1/current/VERSION").isFile();

        Configuration conf = new Configuration();
        conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getPath());
        conf.set("hadoop.tmp.dir", new File(base, "tmp").getPath());
        conf.setBoolean("dfs.permissions.enabled", false);
        conf.setBoolean("dfs.webhdfs.enabled", true);
        conf.setInt("dfs.replication", 1);  // overridden by KEY=VALUE arguments (see hdfs.py)
        // few threads: the machine is shared with other engines
        conf.setInt("dfs.namenode.handler.count", 4);
        conf.setInt("dfs.namenode.service.handler.count", 2);
        conf.setInt("dfs.datanode.handler.count", 4);
        conf.setInt("dfs.datanode.max.transfer.threads", 64);
        // every address on loopback, including the datanode's (WebHDFS redirects clients to it)
        conf.set("dfs.datanode.address", "127.0.0.1:0");
        conf.set("dfs.datanode.http.address", "127.0.0.1:0");
        conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
        conf.set("dfs.datanode.hostname", "127.0.0.1");
        for (int i = 3; i < args.length; i++) {
            int eq = args[i].indexOf('=');
            if (eq <= 0) {
                System.err.println("not KEY=VALUE: " + args[i]);
                System.exit(2);
            }
            conf.set(args[i].substring(0, eq), args[i].substring(eq + 1));
        }
        boolean skipFsync = conf.getBoolean("storagebench.minidfs.skip-fsync", true);

        MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf, base)
                .nameNodePort(nnPort)
                .nameNodeHttpPort(httpPort)
                .numDataNodes(conf.getInt("storagebench.minidfs.datanodes", 1))
                .format(!formatted)
                .skipFsyncForTesting(skipFsync)
                .checkDataNodeAddrConfig(true)
                .checkDataNodeHostConfig(true)
                .build();
        Runtime.getRuntime().addShutdownHook(new Thread(cluster::shutdown, "minidfs-shutdown"));
        cluster.waitActive();
        System.out.println("MiniDFS ready: hdfs://127.0.0.1:" + cluster.getNameNodePort()
                + " webhdfs http://127.0.0.1:" + httpPort + " (formatted now: " + !formatted + ")");
        System.out.flush();
        Thread.currentThread().join();
    }
}
