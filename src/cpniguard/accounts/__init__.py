"""Staff accounts: who they are, their role, their second factor and their API tokens."""
