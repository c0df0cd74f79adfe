"""Reports of run and sweep folders."""
