"""Customer records (CPNI): accounts, names, addresses, contacts, billing, services, staff notes."""
