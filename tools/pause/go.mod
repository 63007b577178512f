module mlops-kit/tools/pause

go 1.26.0
