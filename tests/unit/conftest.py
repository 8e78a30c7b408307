"""Unit tests are hermetic: no test bed, no Prefect server."""
