#!/bin/sh
# The clinic story end to end on the embedded SQLite database (./smartflow.db by default, or
# $SMARTFLOW_DATABASE_URL): deploy the shipped processes, add the registrar and two doctors,
# import the patient cards (patients.xlsx) and then their appointments (appointments.xlsx, each
# row naming its patient), walk one new appointment from booking to a paid visit, show the
# patient's card with all her appointments, then the appointments board.
# Safe to run again: it seeds only an empty database.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
processes="$here/../../processes"

smartflow apply "$processes"

if [ "$(smartflow item list patient --format csv | wc -l)" -le 1 ]; then
  smartflow department add reception --title "Регистратура / Reception"
  smartflow department add therapy --title "Терапевтическое отделение / Therapy"
  smartflow user add sokolova --name "Ольга Соколова" --role registrar --process patient --process appointment --department reception
  smartflow user add lebedev --name "Михаил Лебедев" --role doctor --process patient --process appointment --department therapy
  smartflow user add morozova --name "Елена Морозова" --role doctor --process patient --process appointment --department therapy

  # Patients first: each appointment row names its patient by the card's title.
  smartflow import patient "$here/patients.xlsx"
  smartflow import appointment "$here/appointments.xlsx"

  # Мария Иванова has five appointments; the registrar books a sixth and sees her in.
  patient=$(smartflow item list patient --search "Иванова Мария Петровна" --columns id --format csv | tail -n 1)
  visit=$(smartflow item create appointment --as sokolova --set title="Повторный приём — Иванова М. П." \
    --set patient="$patient" --set doctor=lebedev --set scheduled_at=2026-12-21T10:00 --set service=follow_up \
    --set price=1800 --set room=204)
  smartflow item move appointment "$visit" confirmed --as sokolova
  smartflow item move appointment "$visit" in_progress --as sokolova

  # The doctor cannot close a visit that is neither paid nor covered by insurance.
  smartflow item explain appointment "$visit" --to completed --as lebedev || true
  smartflow item update appointment "$visit" --as sokolova --set payment_method=card --set paid=true
  smartflow item move appointment "$visit" completed --as lebedev

  # One patient, many appointments: the card lists every appointment that links to it.
  smartflow item show patient "$patient" --lang ru
fi

smartflow kanban appointment --lang ru
