"""`python -m pdxsrv` is the `pdxsrv` command."""

import sys

from pdxsrv.cli import main

sys.exit(main())
