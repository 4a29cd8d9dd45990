function tf = bridge_cannot_run(status)
%BRIDGE_CANNOT_RUN  Whether a system() exit status says the command could not be started.
%   127: "command not found" from sh; 126: found but not executable; 9009: cmd.exe's not found.
%   The wrappers then raise bridge:pythonNotFound (BRIDGE_FAIL) instead of the worker's error.
tf = any(status == [126, 127, 9009]);
end
