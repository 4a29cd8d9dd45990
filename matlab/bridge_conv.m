function w = bridge_conv(varargin)
%BRIDGE_CONV  MATLAB's conv, computed by the Python worker of bridge.
%   W = BRIDGE_CONV(U, V) convolves the vectors U and V, as CONV(U, V).
%   W = BRIDGE_CONV(U, V, SHAPE) returns the 'full' (default), 'same' or 'valid' part, as
%   CONV(U, V, SHAPE).
%   W = BRIDGE_CONV(..., 'Python', PYTHON) runs the interpreter PYTHON (a path or a command name).
%
%   The result has CONV's size, orientation and class: single if an input is single, double
%   otherwise (integer and logical inputs included), complex if an input is complex.
%
%   The interpreter is, in this order: the 'Python' option, the environment variable
%   BRIDGE_PYTHON, getpref('bridge', 'python'), then python3 (python on Windows). It must be able
%   to import numpy, scipy, h5py and typer, and bridge unless these files sit in a bridge checkout
%   (then that checkout's bridge is used). Each call runs Python once, in a private temporary
%   folder (in /dev/shm where there is one; BRIDGE_TEMP chooses) that is removed afterwards (kept
%   when the environment variable BRIDGE_KEEP_TEMP is set); a warm server started by BRIDGE_SERVE
%   takes the job when one runs, from memory through the MEX client where it is built (no files,
%   no Python started; see BRIDGE_SETUP). BRIDGE_DIAGNOSE shows which Python is used and what it
%   can import.
%
%   Errors (identifiers), as MATLAB's conv where MATLAB has one:
%     MATLAB:conv:AorBNotVector           U or V is not a vector
%     MATLAB:conv2:unknownShapeParameter  SHAPE is not 'full', 'same' or 'valid'
%     MATLAB:conv:unknownShapeParameter   SHAPE is not text
%     MATLAB:conv2:inputType              U or V is not numeric or logical
%     MATLAB:minrhs, MATLAB:maxrhs        too few or too many arguments
%     bridge:pythonNotFound               the interpreter does not exist or cannot be started
%     bridge:pythonEnv                    it cannot import numpy, scipy, h5py, typer or bridge
%     bridge:badOption                    the 'Python' option is not text
%     bridge:tempFolder                   no temporary folder can be created
%     bridge:noOutput                     the worker succeeded but wrote no result
%     bridge:workerFailed                 any other failure of the worker (its message says why)
%
%   Example:
%     w = bridge_conv([-1 2 3 -2 0 1 2], [2 4 -1 1], 'same')   % [15 5 -9 7 6 7 -1]
%
%   See also CONV, BRIDGE_CONV2, BRIDGE_CONVN, BRIDGE_SERVE, BRIDGE_SETUP, BRIDGE_DIAGNOSE.
[args, python] = bridge_options(varargin);
bridge_nargs(args, 2, 3);
shape = bridge_shape(args, 3, 'MATLAB:conv:unknownShapeParameter');
w = bridge_call('bridge_conv', 'conv', {'u', 'v'}, bridge_operands(args(1:2)), shape, python);
end
