module github.com/landlock-lsm/go-landlock

go 1.21
