"""`python -m retrieval`: the command line (the cli package)."""

from retrieval.cli import main
from retrieval.cli.interrupt import exit_soon_after_ctrl_c

exit_soon_after_ctrl_c()
raise SystemExit(main())
