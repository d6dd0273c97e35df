"""The web family: agents drive Chromium on sites the project serves on loopback."""
