"""`loyalty-admin`: the operator's command-line tool. It talks gRPC to the running services (and,
for `migrate` only, to PostgreSQL), never to another service's tables."""
