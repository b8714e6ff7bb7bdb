"""The `dbt.` cross-database macros as sqlfluff's jinja templater renders them (DuckDB SQL).

sqlfluff lints the models offline with the jinja templater (the dbt templater needs a live
warehouse connection); this module gives `{{ dbt.concat(...) }}` and friends a DuckDB rendering
so the linter sees the same shape of SQL dbt compiles. It is never used by dbt itself.
"""


def type_string() -> str:
    return "varchar"


def type_bigint() -> str:
    return "bigint"


def type_timestamp() -> str:
    return "timestamp"


def concat(fields: list[str]) -> str:
    return " || ".join(fields)


def hash(field: str) -> str:
    return f"md5(cast({field} as varchar))"


def listagg(measure: str, delimiter_text: str = "','", order_by_clause: str = "", limit_num=None) -> str:
    return f"string_agg({measure}, {delimiter_text} {order_by_clause})"
