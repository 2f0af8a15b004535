#!/bin/sh
# The HR story end to end on the embedded SQLite database (./smartflow.db by default, or
# $SMARTFLOW_DATABASE_URL): deploy the shipped processes, add the recruiters and the head of HR,
# import the candidates already in progress (candidates.xlsx, the same rows as candidates.csv),
# walk one new application from hh.ru to the first working day, then show the hiring board.
# Safe to run again: it seeds only an empty database.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
processes="$here/../../processes"

smartflow apply "$processes"

if [ "$(smartflow item list candidate --format csv | wc -l)" -le 1 ]; then
  smartflow department add hr --title "Отдел кадров / HR"
  smartflow user add smirnova --name "Мария Смирнова" --role recruiter --process candidate --department hr
  smartflow user add kuznetsov --name "Дмитрий Кузнецов" --role recruiter --process candidate --department hr
  smartflow user add volkova --name "Елена Волкова" --role hr_head --process candidate --department hr
  smartflow user add zakharov --name "Игорь Захаров" --role manager --process candidate

  # 33 candidates and interns in every stage of both pipelines, columns titled in English;
  # the `assign_recruiter` trigger shares them out between the two recruiters.
  smartflow import candidate "$here/candidates.xlsx"
  # The worker sends what the import set off (reminders of interviews already booked), so the
  # inbox below shows this story's messages, whatever today's date.
  smartflow worker --once

  # A new application: screened, interviewed, given a test task by the recruiter; her dates are
  # days and weeks from today, so the story's reminders always lie ahead.
  in_days() { python3 -c "import datetime, sys; print(datetime.date.today() + datetime.timedelta(int(sys.argv[1])))" "$1"; }
  id=$(smartflow item create candidate --as smirnova --set title="Петрова Анна Сергеевна" \
    --set position=engineer --set source=hh_ru --set email=a.petrova@mail.ru --set expected_salary=180000)
  smartflow item move candidate "$id" screening --as smirnova
  smartflow item update candidate "$id" --as smirnova --set interview_date="$(in_days 3)T11:00" --set interviewer=zakharov
  smartflow item move candidate "$id" interview --as smirnova
  smartflow item move candidate "$id" test_task --as smirnova

  # The offer is not the recruiter's to make, and the test task is not scored yet: every reason at once.
  smartflow item explain candidate "$id" --to offer --as smirnova || true

  # Scored, the head of HR makes the offer; once it is accepted the `onboarding` trigger marks
  # her a new employee and asks HR to prepare the workplace.
  smartflow item update candidate "$id" --as smirnova --set test_score=86
  smartflow item update candidate "$id" --as volkova --set offered_salary=175000 --set offer_date="$(in_days 10)" \
    --set start_date="$(in_days 37)" --set department="Проектный отдел"
  smartflow item move candidate "$id" offer --as volkova
  smartflow item move candidate "$id" hired --as volkova

  # The worker delivers the notifications (run it from cron or as a service); the newest in
  # the head of HR's inbox is the onboarding checklist.
  smartflow worker --once
  smartflow inbox --as volkova --limit 1
fi

smartflow kanban candidate --lang ru
