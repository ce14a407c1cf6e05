"""check_es_snapshot: snapshot backups of Elasticsearch and OpenSearch."""
__version__ = "0.1.0"
