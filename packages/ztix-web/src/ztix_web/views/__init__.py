"""Page handlers (Falcon resources), one module per audience."""
