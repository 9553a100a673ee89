"""Running a plan: the suite of stores x workloads, the workers and their control block, the watchdog,
the pools (processes, cooperative greenlets, Spark), sweeps and batch phases."""
