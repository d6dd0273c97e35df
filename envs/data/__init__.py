"""The data-analysis family: real tables, pandas in a sandboxed kernel, DABench-style answers."""
