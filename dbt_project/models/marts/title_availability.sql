{{
    config(
        materialized='incremental',
        unique_key=['id', 'country_code'],
        incremental_strategy='merge',
        on_schema_change='fail',
        contract={'enforced': true},
    )
}}

{#
    Where each published title is available: one row per (title, country it is listed in), with
    that country's streaming services and the first and latest day it was listed as new there.
    Built with the published table (after the gate) from its audit relation title_availability_audit,
    which the dbt tests and the Great Expectations gate checked per country; only titles the published
    table holds (a relationships test holds it to them).

    Incremental (merge on id and country_code): a raw listing keeps only its latest day, so the
    first day a title was listed in a country is kept from the earlier runs (least), the latest
    moves forward (greatest); re-running a day changes nothing.
#}
{%- set string_type = long_string_type() -%}

with

audited as (

    select * from {{ ref('title_availability_audit') }}

),

published as (

    select * from {{ ref('movies_tv_shows_enriched') }}

),

existing as (

    {% if is_incremental() -%}
    select
        id,
        country_code,
        first_listed_on,
        last_listed_on

    from {{ this }}
    {%- else -%}
    select
        cast(null as {{ string_type }}) as id,
        cast(null as {{ string_type }}) as country_code,
        cast(null as date) as first_listed_on,
        cast(null as date) as last_listed_on

    where 1 = 0
    {%- endif %}

),

final as (

    select
        audited.id,
        audited.country_code,
        audited.streaming_platforms,
        cast(
            least(coalesce(existing.first_listed_on, audited.first_listed_on), audited.first_listed_on) as date
        ) as first_listed_on,
        cast(
            greatest(coalesce(existing.last_listed_on, audited.last_listed_on), audited.last_listed_on) as date
        ) as last_listed_on

    from audited

    inner join published
        on audited.id = published.id

    left join existing
        on
            audited.id = existing.id
            and audited.country_code = existing.country_code

)

select * from final
