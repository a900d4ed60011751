"""Authentication: HTTP Basic with argon2id, a verified-credential cache, login rules."""
