"""check_es_snapshot: snapshot backups of Elasticsearch and OpenSearch."""
__version__ = "0.1.0"
# The check's name: the first word of every line the plugin prints (here so
# that nothing needs more than the package to print it).
NAME = "ES_SNAPSHOT"
