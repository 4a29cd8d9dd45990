function C = bridge_convn(varargin)
%BRIDGE_CONVN  MATLAB's convn, computed by the Python worker of bridge.
%   C = BRIDGE_CONVN(A, B) is the N-dimensional convolution of the arrays A and B, as CONVN(A, B).
%   C = BRIDGE_CONVN(A, B, SHAPE) returns the 'full' (default), 'same' or 'valid' part.
%   C = BRIDGE_CONVN(..., 'Python', PYTHON) runs the interpreter PYTHON (a path or a command name).
%
%   The result has CONVN's size and class: single if an input is single, double otherwise
%   (integer and logical inputs included), complex if an input is complex.
%
%   The interpreter is, in this order: the 'Python' option, the environment variable
%   BRIDGE_PYTHON, getpref('bridge', 'python'), then python3 (python on Windows); see BRIDGE_CONV.
%
%   Errors (identifiers), as MATLAB's convn where MATLAB has one:
%     MATLAB:conv2:unknownShapeParameter  SHAPE is not 'full', 'same' or 'valid'
%     MATLAB:conv2:inputType              A or B is not numeric or logical
%     MATLAB:minrhs, MATLAB:maxrhs        too few or too many arguments
%     bridge:pythonNotFound               the interpreter does not exist or cannot be started
%     bridge:pythonEnv                    it cannot import numpy, scipy, h5py, typer or bridge
%     bridge:badOption                    the 'Python' option is not text
%     bridge:tempFolder                   no temporary folder can be created
%     bridge:noOutput                     the worker succeeded but wrote no result
%     bridge:workerFailed                 any other failure of the worker
%
%   Example:
%     C = bridge_convn(ones(3, 3), ones(2, 2, 2))   % 4x4x2
%
%   See also CONVN, BRIDGE_CONV, BRIDGE_CONV2, BRIDGE_DIAGNOSE.
[args, python] = bridge_options(varargin);
bridge_nargs(args, 2, 3);
shape = bridge_shape(args, 3, 'MATLAB:conv2:unknownShapeParameter');
C = bridge_call('bridge_convn', 'convn', {'A', 'B'}, bridge_operands(args(1:2)), shape, python);
end
