{#
    Cast and directors per title as JSON text. Cast: [{"name", "character"}] in billing order
    (the show's own billing before its seasons'); directors: [{"name"}] in billing order.
    A person credited on both a show and its season appears once.
#}
with

credits as (

    select * from {{ ref('stg_justwatch__title_credits') }}

),

nodes as (

    select * from {{ ref('int_title_nodes_folded') }}

),

credited as (

    select
        nodes.title_id,
        credits.credit_role,
        credits.person_name,
        credits.character_name,
        min(nodes.node_rank) as first_node_rank,
        min(credits.billing_position) as first_billing_position

    from credits

    inner join nodes
        on credits.title_dlt_id = nodes.dlt_id

    where credits.credit_role in ('ACTOR', 'DIRECTOR')

    group by
        nodes.title_id,
        credits.credit_role,
        credits.person_name,
        credits.character_name

),

cast_members as (

    select
        title_id,
        {{ json_array_agg(
            [
                {"key": "name", "expr": "person_name", "type": "string"},
                {"key": "character", "expr": "character_name", "type": "string"},
            ],
            "first_node_rank, first_billing_position, person_name, character_name"
        ) }} as cast_members

    from credited

    where credit_role = 'ACTOR'

    group by title_id

),

distinct_directors as (

    select
        title_id,
        person_name,
        min(first_node_rank) as first_node_rank,
        min(first_billing_position) as first_billing_position

    from credited

    where credit_role = 'DIRECTOR'

    group by title_id, person_name

),

directors as (

    select
        title_id,
        {{ json_array_agg(
            [{"key": "name", "expr": "person_name", "type": "string"}],
            "first_node_rank, first_billing_position, person_name"
        ) }} as directors

    from distinct_directors

    group by title_id

),

titles as (

    select distinct title_id from credited

),

final as (

    select
        titles.title_id,
        cast_members.cast_members,
        directors.directors

    from titles

    left join cast_members
        on titles.title_id = cast_members.title_id

    left join directors
        on titles.title_id = directors.title_id

)

select * from final
