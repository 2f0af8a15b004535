#!/bin/sh
# The procurement story end to end on the embedded SQLite database (./smartflow.db by default,
# or $SMARTFLOW_DATABASE_URL): deploy the shipped processes, add the buyers, walk purchases through
# the pipeline, import the supply department's backlog (procurement.xlsx, the same rows as
# procurement.csv), then show the kanban board. Safe to run again: it seeds only an empty database.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
processes="$here/../../processes"

smartflow apply "$processes"

if [ "$(smartflow item list procurement --format csv | wc -l)" -le 1 ]; then
  smartflow department add supply --title "Снабжение / Supply"
  smartflow user add ivanova --name "Анна Иванова" --role buyer --process procurement --department supply
  smartflow user add orlov --name "Сергей Орлов" --role buyer --process procurement --department supply
  smartflow user add petrov --name "Пётр Петров" --role manager --process procurement

  first=$(smartflow item create procurement --as ivanova \
    --set title="Бетон М300 для объекта «Лесной»" --set estimate="1480000" \
    --set materials=concrete,rebar --set due_date=2026-12-15 --set priority=urgent)
  smartflow item move procurement "$first" prices --as ivanova
  smartflow item update procurement "$first" --as ivanova \
    --set supplier="ООО «СтройБетон»" --set quoted_price="1395000" --set supplier_email=sales@stroybeton.ru
  smartflow item move procurement "$first" contract --as ivanova
  smartflow item update procurement "$first" --as ivanova --set contract_number=SB-2026/114

  second=$(smartflow item create procurement --as ivanova \
    --set title="Timber for the roof, house 12" --set estimate="640000" --set materials=timber,roofing)
  smartflow item move procurement "$second" prices --as ivanova

  smartflow item create procurement --as ivanova --set title="Утеплитель, 40 м³" --set estimate="212500.50" \
    --set materials=insulation >/dev/null

  # The backlog from the buyers' spreadsheet: 30 purchases in every stage, columns titled in Russian.
  smartflow import procurement "$here/procurement.xlsx"

  # A refused move explains itself: the manager may not skip the contract stage.
  smartflow item explain procurement "$first" --to delivery --as petrov || true
  # Nor may its author approve her own contract (maker-checker: `forbid_self: [created_by]`).
  smartflow item explain procurement "$first" --to delivery --as ivanova || true
  # Her colleague may. Once the materials are shipped and delivered, the `delivered_to_production`
  # trigger hands the purchase over to production by itself.
  smartflow item move procurement "$first" delivery --as orlov
  smartflow item update procurement "$first" --as ivanova --set shipped_on=2026-12-14 --set delivered=true
fi

smartflow kanban procurement --lang ru
