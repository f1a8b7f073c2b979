from benchmarks.security.runner import main

raise SystemExit(main())
