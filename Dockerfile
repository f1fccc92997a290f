# The Airflow image Precinct's docker-compose stack runs: the official image plus our pins.
FROM apache/airflow:3.3.2-python3.11
COPY requirements.txt constraints.txt /tmp/precinct/
RUN pip install --no-cache-dir -r /tmp/precinct/requirements.txt -c /tmp/precinct/constraints.txt
