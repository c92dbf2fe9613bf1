"""Config samples shared by the library tests and the command-line tests."""

SIX_PROBLEMS = """\
[aws]
region = "eu-west-1"

[replication]
interval_seconds = "1"

[replication.postgres]
primary_dsn = "host=10.0.0.1 dbname=shop"
replica_dsn = "host=10.0.0.2 dbname=shop sslmode"

[dns]
resolvers = ["1.1.1.1", "10.0.0.2:53", "8.8.8.888"]
max_tll_seconds = 60

[[dns.records]]
name = "shop.example.com"
expect = "10.0.0.20"
old = "10.0.0.1"

[traffic]
steps = [0, 5, 25, 10, 100]

[traffic.route53]
hosted_zone_id = "Z1"
record_name = "shop.example.com"
old_set_identifier = "old"
new_set_identifier = "new"
"""

# What `config validate` must say about SIX_PROBLEMS, in this order.
SIX_PROBLEMS_REPORTED = [
    "cutover: missing section [cutover]",
    "replication.interval_seconds: expected a number, got a string '1'",
    "replication.postgres.replica_dsn: not a valid PostgreSQL connection string: "
    'missing "=" after "sslmode" in connection info string',
    "dns.resolvers[2]: '8.8.8.888' is not IP[:port] (e.g. '1.1.1.1' or '127.0.0.1:5353')",
    "dns.max_tll_seconds: unknown key; did you mean 'max_ttl_seconds'?",
    "traffic.steps: steps must ascend: 10 comes after 25",
]
