"""The plugins bundled with OrbitFlow; each is enabled by name in the INI file."""
