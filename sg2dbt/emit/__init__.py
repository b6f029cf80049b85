"""Emitters: SQLAlchemy metadata and the ORM, raw-table DDL (and creating the raw tables), the standalone
module and the dbt project. They read the core layer's raw layout; none of them reads records.
"""
