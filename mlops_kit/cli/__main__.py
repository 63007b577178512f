from mlops_kit.cli import app

app()
