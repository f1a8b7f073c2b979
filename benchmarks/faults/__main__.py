from benchmarks.faults.suite import main

raise SystemExit(main())
