from benchmarks.load.runner import main

raise SystemExit(main())
