"""Console accounts: users with argon2id passwords, sign-in with throttling, sessions."""
