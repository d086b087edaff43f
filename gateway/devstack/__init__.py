"""The local development stack: real servers as child processes, `edumon stack up`, the demo."""
