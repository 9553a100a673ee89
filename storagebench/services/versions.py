"""The one place for the version of every engine and launcher dependency the project provisions."""

from __future__ import annotations

POSTGRES_MAJOR = "15"
FERRETDB = "v1.24.2"
VERSITYGW = "v1.8.0"
HADOOP = "3.5.0"
HBASE = "2.6.1-hadoop3"
KUDU = "1.17.1"
NEO4J = "5.26.30"
