from core.redact import redact


def test_known_secret_values_and_query_keys_are_scrubbed() -> None:
    text = "GET https://api.themoviedb.org/3/movie/1/reviews?api_key=abc123&page=1 failed with sk-secret-value"
    out = redact(text, ["sk-secret-value"])
    assert "abc123" not in out and "sk-secret-value" not in out
    assert "api_key=***" in out and "page=1" in out
