{{
    config(
        materialized='table',
        contract={'enforced': true},
    )
}}

{#
    The published table: the audited mart, copied whole once its dbt tests and the Great
    Expectations gate passed (write-audit-publish). `table` builds the new version beside the
    old one and swaps it in one transaction, so readers see either yesterday's table or today's.
    The column list is the contract in _marts__models.yml (one owner), in its order.
#}

with

audited as (

    select * from {{ ref('movies_tv_shows_enriched_audit') }}

),

final as (

    select
        {{ model.columns.keys() | join(',\n        ') }}

    from audited

)

select * from final
