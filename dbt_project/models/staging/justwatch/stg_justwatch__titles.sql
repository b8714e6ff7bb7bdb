with

source as (

    select * from {{ source('justwatch', 'titles') }}

),

renamed as (

    select
        ---------- ids
        cast(id as {{ dbt.type_string() }}) as node_id,
        cast(_dlt_id as {{ dbt.type_string() }}) as dlt_id,
        upper(trim(object_type)) as object_type,
        cast(object_id as {{ dbt.type_bigint() }}) as justwatch_object_id,
        {{ clean_text('imdb_id') }} as imdb_id,
        {{ clean_text('tmdb_id') }} as tmdb_id,

        ---------- text
        {{ clean_text('title') }} as title,
        {{ clean_text('original_title') }} as original_title,
        {{ clean_text('short_description') }} as synopsis,
        {{ clean_text('age_certification') }} as age_certification,
        {{ clean_text('full_path') }} as full_path,
        lower({{ clean_text('original_language') }}) as original_language,
        upper({{ clean_text('country') }}) as listing_country,
        {{ clean_text('new_offer_package') }} as new_offer_package,

        ---------- numerics
        cast(original_release_year as integer) as release_year,
        {{ clean_text('original_release_date') }} as release_date_text,
        cast(runtime_minutes as integer) as runtime_minutes,
        cast(imdb_score as double precision) as imdb_score,
        cast(tomato_meter as integer) as tomato_meter,

        ---------- seasons: the parent show
        cast(season_number as integer) as season_number,
        {{ clean_text('show_id') }} as show_node_id,
        {{ clean_text('show_title') }} as show_title,
        {{ clean_text('show_full_path') }} as show_full_path,
        {{ clean_text('show_tmdb_id') }} as show_tmdb_id,
        {{ clean_text('show_imdb_id') }} as show_imdb_id,

        ---------- dates
        cast(new_since as date) as new_since,
        cast(extracted_at as timestamp with time zone) as extracted_at

    from source

)

select * from renamed
