from apicviz.cli import main

raise SystemExit(main())
