"""One job, start to end (config -> data -> pipeline -> fit -> evaluate -> track -> register), and its replay."""
