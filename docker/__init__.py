"""Not code: compose.yaml (generated from the engines' fragments, see
:mod:`storagebench.services.compose`) and its README, shipped in the wheel."""
