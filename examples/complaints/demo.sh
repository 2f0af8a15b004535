#!/bin/sh
# The complaints story end to end on the embedded SQLite database (./smartflow.db by default, or
# $SMARTFLOW_DATABASE_URL): deploy the shipped processes, add two support agents and a manager,
# import the complaints already on the desk (complaints.xlsx, the same rows as complaints.csv),
# walk one new complaint from the phone call to its resolution, then show the complaints board.
# Safe to run again: it seeds only an empty database.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
processes="$here/../../processes"

smartflow apply "$processes"

if [ "$(smartflow item list complaint --format csv | wc -l)" -le 1 ]; then
  smartflow department add care --title "Служба заботы о клиентах / Customer care"
  smartflow user add belova --name "Наталья Белова" --role support --process complaint --department care
  smartflow user add zaitsev --name "Артём Зайцев" --role support --process complaint --department care
  smartflow user add gusev --name "Виктор Гусев" --role manager --process complaint

  # 30 complaints in every stage; the `distribute` trigger gives each to the least busy agent,
  # and the critical ones go to the manager.
  smartflow import complaint "$here/complaints.xlsx"

  # A customer calls: the roof of her new house leaks. The agent records it and investigates.
  id=$(smartflow item create complaint --as belova --set title="Протекает кровля над верандой" \
    --set customer_name="Киселёва Дарья Андреевна" --set contact_phone="+7 921 402-18-77" --set channel=phone \
    --set severity=high --set order_number=ДГ-2026/052 \
    --set description="После дождя с потолка веранды капает вода, намокла вагонка.")
  smartflow item update complaint "$id" --as belova --set category=quality --set due_date=2026-12-04
  smartflow item move complaint "$id" investigating --as belova
  smartflow item update complaint "$id" --as belova --set compensation_type=refund --set compensation=15000 \
    --set resolution="Кровля над верандой перекрыта, стоимость испорченной вагонки возвращается."

  # A compensation above 10 000 ₽ is the manager's decision, not the agent's.
  smartflow item explain complaint "$id" --to resolved --as belova || true
  smartflow item move complaint "$id" resolved --as gusev
fi

smartflow kanban complaint --lang ru
