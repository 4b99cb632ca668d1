"""ztix ZeroTier providers: self-hosted controller and Central, controller lifecycle, emulator."""
