"""`python -m retrieval`: the command line (the cli package)."""

import sys

# The Neo4j driver imports pandas and pyarrow whenever they are installed (for `Result.to_df`,
# which the command line never calls); they come with Streamlit, and cost a good part of every
# command's start-up (docs/BENCHMARKS.md). Marked missing here, the driver does without them.
for _unused in ("pandas", "pyarrow"):
    sys.modules.setdefault(_unused, None)  # type: ignore[arg-type]

from retrieval.cli import main  # noqa: E402
from retrieval.cli.interrupt import exit_soon_after_ctrl_c  # noqa: E402

exit_soon_after_ctrl_c()
raise SystemExit(main())
