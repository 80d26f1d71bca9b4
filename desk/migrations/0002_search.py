"""Search's indexes: a tsvector of each message's text and each customer's name, email and external id, with
Chinese, Japanese and Korean text cut into overlapping pairs of characters (bigrams), which PostgreSQL's parsers
do not do (docs/architecture.md, "Search"); the rest of the text, with the CJK runs blanked out (so `订单号是12345`
keeps `12345` a word of its own), goes through the `simple` configuration: lower-cased words, no stemming. `desk.selectors` repeats these expressions word for word: an
expression index serves only a query that writes the same expression.
"""

from django.db import migrations

# Han (with extension A and compatibility ideographs), kana, hangul syllables
CJK = r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]"

CREATE_FUNCTION = f"""
CREATE FUNCTION desk_search_vector(body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
SELECT CASE WHEN body ~ '{CJK}' THEN
    to_tsvector('simple'::regconfig, regexp_replace(body, '{CJK}+', ' ', 'g')) || array_to_tsvector(ARRAY(
        SELECT DISTINCT lower(CASE WHEN substr(body, i + 1, 1) ~ '{CJK}'
                                   THEN substr(body, i, 2) ELSE substr(body, i, 1) END)
        FROM generate_series(1, length(body)) AS i
        WHERE substr(body, i, 1) ~ '{CJK}'))
ELSE to_tsvector('simple'::regconfig, body) END
$$;
"""

CREATE_INDEXES = """
CREATE INDEX desk_message_search_idx ON chat_message USING gin (desk_search_vector(body)) WHERE sender <> 'system';
CREATE INDEX desk_customer_search_idx ON customers_customer
    USING gin (desk_search_vector(name || ' ' || email || ' ' || coalesce(external_id, '')));
"""

DROP = """
DROP INDEX IF EXISTS desk_customer_search_idx;
DROP INDEX IF EXISTS desk_message_search_idx;
DROP FUNCTION IF EXISTS desk_search_vector(text);
"""


class Migration(migrations.Migration):
    dependencies = [
        ("desk", "0001_initial"),
        ("chat", "0006_attachment"),
        ("customers", "0002_alter_customer_options"),
    ]

    operations = [migrations.RunSQL(CREATE_FUNCTION + CREATE_INDEXES, DROP)]
