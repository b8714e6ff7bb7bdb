{#
    Reviews per title as a JSON array of {source_name, author, review_text, original_score,
    score_normalized, review_url}, ordered by source, publication date and key so the text
    (and so source_data_hash) is stable from run to run. Reviews filed under a season's id
    are moved to the parent show.

    Only the latest `reviews.max_reviews` reviews per title and source are kept (raw_reviews keeps
    every review ever fetched): the enrichment input, its hash and the mart all read this capped set.
    N is the dbt var `max_reviews` (dbt_project.yml): the pipeline setting `reviews.max_reviews`,
    which reaches dbt as the environment variable TRENDING_NOW__REVIEWS__MAX_REVIEWS.
#}
{%- set max_reviews = var('max_reviews') | int -%}

with

reviews as (

    select * from {{ ref('stg_reviews__reviews') }}

),

nodes as (

    select * from {{ ref('int_title_nodes_folded') }}

),

node_titles as (

    {# a node is listed once per country: one row per node for the review join #}
    select distinct
        node_id,
        title_id

    from nodes

),

mapped as (

    select
        coalesce(nodes.title_id, reviews.title_id) as title_id,
        reviews.source_name,
        reviews.review_key,
        reviews.author,
        reviews.review_text,
        reviews.original_score,
        reviews.score_normalized,
        reviews.review_url,
        coalesce(
            cast(reviews.published_at as {{ dbt.type_string() }}), ''
        ) as published_sort_key,
        {{ null_safe_hash([
            'reviews.source_name', 'reviews.review_key', 'reviews.author', 'reviews.review_text',
            'reviews.original_score', 'cast(round(reviews.score_normalized * 100) as bigint)', 'reviews.review_url'
        ]) }} as review_fingerprint

    from reviews

    left join node_titles as nodes
        on reviews.title_id = nodes.node_id

    where reviews.review_text is not null

),

latest as (

    select
        *,
        row_number() over (
            partition by title_id, source_name
            order by published_sort_key desc, review_key asc
        ) as recency_rank

    from mapped

),

capped as (

    select * from latest

    where recency_rank <= {{ max_reviews }}

),

final as (

    select
        title_id,
        count(*) as review_count,
        {{ json_array_agg(
            [
                {"key": "source_name", "expr": "source_name", "type": "string"},
                {"key": "author", "expr": "author", "type": "string"},
                {"key": "review_text", "expr": "review_text", "type": "string"},
                {"key": "original_score", "expr": "original_score", "type": "string"},
                {"key": "score_normalized", "expr": "score_normalized", "type": "number"},
                {"key": "review_url", "expr": "review_url", "type": "string"},
            ],
            "source_name, published_sort_key desc, review_key"
        ) }} as scraped_reviews,
        {#
            What the hash sees of the reviews: one md5 per review over its fields (scores as whole
            hundredths), joined in the same order. Unlike the JSON text, it is the same on every
            warehouse, so source_data_hash (and the enrichment it keys) is portable.
        #}
        {{ dbt.listagg(
            "review_fingerprint",
            "','",
            "order by source_name, published_sort_key desc, review_key"
        ) }} as reviews_fingerprint

    from capped

    group by title_id

)

select * from final
